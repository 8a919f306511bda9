import type { ReactNode } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router";
import { Button } from "@/components/ui/button";
import { useAuth } from "@/lib/supabase";
import { cn } from "@/lib/utils";
import { Leads } from "./Leads";

const SCREENS = [
  { path: "leads", label: "Leads" },
  { path: "pipeline", label: "Pipeline" },
  { path: "clients", label: "Clients" },
  { path: "import", label: "Import" },
  { path: "console", label: "Console" },
] as const;

function Placeholder({ label }: { label: string }) {
  return (
    <section aria-labelledby="placeholder-title">
      <h1 id="placeholder-title" className="text-2xl font-semibold">
        {label}
      </h1>
      <p className="mt-2 text-muted-foreground">Not built yet.</p>
    </section>
  );
}

/** The signed-in app: a sidebar of the screens, the current one beside it. */
export function Shell({ themeToggle }: { themeToggle: ReactNode }) {
  const { supabase, session } = useAuth();
  return (
    <div className="flex min-h-screen flex-col md:flex-row">
      <aside className="flex flex-col gap-4 border-b p-4 md:w-56 md:border-r md:border-b-0">
        <span className="text-lg font-semibold">GardenOS</span>
        <nav aria-label="Main">
          <ul className="flex flex-wrap gap-1 md:flex-col">
            {SCREENS.map(({ path, label }) => (
              <li key={path}>
                <NavLink
                  to={`/${path}`}
                  className={({ isActive }) =>
                    cn(
                      "block rounded-md px-3 py-2 text-sm hover:bg-accent focus-visible:outline-none " +
                        "focus-visible:ring-2 focus-visible:ring-ring",
                      isActive && "bg-accent font-medium",
                    )
                  }
                >
                  {label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="mt-auto flex flex-col gap-2 text-sm">
          <span className="truncate text-muted-foreground" title={session?.user.email}>
            {session?.user.email}
          </span>
          {themeToggle}
          <Button variant="outline" size="sm" onClick={() => void supabase.auth.signOut()}>
            Sign out
          </Button>
        </div>
      </aside>
      <main className="flex-1 p-4 md:p-8">
        <Routes>
          <Route path="/leads" element={<Leads />} />
          {SCREENS.filter((s) => s.path !== "leads").map(({ path, label }) => (
            <Route key={path} path={`/${path}`} element={<Placeholder label={label} />} />
          ))}
          <Route path="*" element={<Navigate to="/leads" replace />} />
        </Routes>
      </main>
    </div>
  );
}
