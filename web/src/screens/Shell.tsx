import { Suspense, type ReactNode } from "react";
import { NavLink, Navigate, Route, Routes, useNavigate } from "react-router";
import { Button } from "@/components/ui/button";
import { Toaster } from "@/components/ui/sonner";
import { CommandMenu, type MenuCommand } from "@/features/search/CommandMenu";
import { useAuth } from "@/lib/supabase";
import { lazyNamed } from "@/lib/lazy";
import { cn } from "@/lib/utils";

// Each screen is its own chunk, loaded when first opened: the sign-in page does not wait for the table.
const LeadPage = lazyNamed(() => import("@/features/leads/components/LeadPage"), "LeadPage");

const SCREENS = [
  { path: "dashboard", label: "Dashboard", Screen: lazyNamed(() => import("@/features/dashboard/DashboardScreen"), "DashboardScreen") },
  { path: "leads", label: "Leads", Screen: lazyNamed(() => import("@/features/leads/components/LeadsScreen"), "LeadsScreen") },
  { path: "pipeline", label: "Pipeline", Screen: lazyNamed(() => import("@/features/pipeline/PipelineScreen"), "PipelineScreen") },
  { path: "clients", label: "Clients", Screen: lazyNamed(() => import("@/features/clients/ClientsScreen"), "ClientsScreen") },
  { path: "tasks", label: "Tasks", Screen: lazyNamed(() => import("@/features/tasks/TasksScreen"), "TasksScreen") },
  { path: "import", label: "Import", Screen: lazyNamed(() => import("@/features/imports/ImportScreen"), "ImportScreen") },
  { path: "console", label: "Console", Screen: lazyNamed(() => import("@/features/console/ConsoleScreen"), "ConsoleScreen") },
] as const;

/** The signed-in app: a sidebar of the screens, the current one beside it. */
export function Shell({ themeToggle }: { themeToggle: ReactNode }) {
  const { supabase, session } = useAuth();
  const navigate = useNavigate();
  const commands: MenuCommand[] = [
    ...SCREENS.map(({ path, label }) => ({ label: `Go to ${label}`, run: () => void navigate(`/${path}`) })),
    { label: "Sign out", run: () => void supabase.auth.signOut() },
  ];
  return (
    <div className="flex min-h-screen flex-col md:flex-row">
      <aside className="flex flex-col gap-4 border-b p-4 md:w-56 md:border-r md:border-b-0">
        <span className="text-lg font-semibold">GardenOS</span>
        <span className="hidden text-xs text-muted-foreground md:block">
          <kbd>⌘K</kbd> / <kbd>Ctrl+K</kbd>: command menu
        </span>
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
      <main className="min-w-0 flex-1 p-4 md:p-8">
        <Suspense fallback={<p role="status">Loading…</p>}>
        <Routes>
          {SCREENS.map(({ path, Screen }) => (
            <Route key={path} path={`/${path}/*`} element={<Screen />} />
          ))}
          <Route path="/leads/:id" element={<LeadPage />} />
          <Route path="*" element={<Navigate to="/leads" replace />} />
        </Routes>
        </Suspense>
      </main>
      <CommandMenu commands={commands} />
      <Toaster />
    </div>
  );
}
