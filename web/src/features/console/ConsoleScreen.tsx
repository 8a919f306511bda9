import { Suspense } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router";
import { lazyNamed } from "@/lib/lazy";
import { cn } from "@/lib/utils";

// Each section is its own chunk: an agent's console does not load the table editor.
const SECTIONS = [
  { path: "tables", label: "Table editor", Section: lazyNamed(() => import("./table-editor/TableEditorSection"), "TableEditorSection") },
  { path: "sql", label: "SQL", Section: lazyNamed(() => import("./sql/SqlSection"), "SqlSection") },
  { path: "members", label: "Members", Section: lazyNamed(() => import("./members/MembersSection"), "MembersSection") },
  { path: "users", label: "Auth users", Section: lazyNamed(() => import("./users/UsersSection"), "UsersSection") },
  { path: "keys", label: "API keys", Section: lazyNamed(() => import("./keys/KeysSection"), "KeysSection") },
  { path: "storage", label: "Storage", Section: lazyNamed(() => import("./storage/StorageSection"), "StorageSection") },
  { path: "agents", label: "AI agents", Section: lazyNamed(() => import("./agents/AgentsSection"), "AgentsSection") },
  { path: "cluster", label: "Cluster", Section: lazyNamed(() => import("./cluster/ClusterSection"), "ClusterSection") },
  { path: "audit", label: "Audit log", Section: lazyNamed(() => import("./audit/AuditSection"), "AuditSection") },
] as const;

/** The console that replaces Supabase Studio: a row of sections, the open one below. */
export function ConsoleScreen() {
  return (
    <div className="flex flex-col gap-6">
      <nav aria-label="Console">
        <ul className="flex flex-wrap gap-1 border-b pb-2">
          {SECTIONS.map(({ path, label }) => (
            <li key={path}>
              <NavLink
                to={`/console/${path}`}
                className={({ isActive }) =>
                  cn(
                    "block rounded-md px-3 py-1.5 text-sm hover:bg-accent focus-visible:outline-none " +
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
      <Suspense fallback={<p role="status">Loading…</p>}>
        <Routes>
          {SECTIONS.map(({ path, Section }) => (
            <Route key={path} path={`${path}/*`} element={<Section />} />
          ))}
          <Route path="*" element={<Navigate to="/console/tables" replace />} />
        </Routes>
      </Suspense>
    </div>
  );
}
