import { useSyncExternalStore } from "react";
import { Toaster as Sonner, type ToasterProps } from "sonner";

// The theme is the `dark` class on <html> (lib/theme.ts), switched outside React: watch it.
function subscribe(onChange: () => void): () => void {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
  return () => observer.disconnect();
}
const isDark = () => document.documentElement.classList.contains("dark");

export function Toaster(props: ToasterProps) {
  const dark = useSyncExternalStore(subscribe, isDark);
  return <Sonner theme={dark ? "dark" : "light"} closeButton {...props} />;
}
