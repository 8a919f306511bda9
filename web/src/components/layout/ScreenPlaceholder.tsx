/** A screen that is not built yet: its title, and a line saying so. */
export function ScreenPlaceholder({ title }: { title: string }) {
  return (
    <section aria-labelledby="placeholder-title">
      <h1 id="placeholder-title" className="text-2xl font-semibold">
        {title}
      </h1>
      <p className="mt-2 text-muted-foreground">Not built yet.</p>
    </section>
  );
}
