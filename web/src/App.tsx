import { createClient, type Session, type SupabaseClient } from "@supabase/supabase-js";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { BrowserRouter } from "react-router";
import { Button } from "@/components/ui/button";
import type { AppConfig } from "@/lib/config";
import { activeAgencyId, AuthContext } from "@/lib/supabase";
import { applyTheme, initialTheme, type Theme } from "@/lib/theme";
import { AgencySetup } from "@/screens/AgencySetup";
import { AuthScreen } from "@/screens/AuthScreen";
import { Shell } from "@/screens/Shell";

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => applyTheme(theme), [theme]);
  const next = theme === "dark" ? "light" : "dark";
  return (
    <Button variant="outline" size="sm" onClick={() => setTheme(next)} aria-label={`Switch to ${next} theme`}>
      {theme === "dark" ? "Light theme" : "Dark theme"}
    </Button>
  );
}

/** The app over one supabase-js client: signed out → sign in; signed in without an agency → make one;
 * otherwise the shell. */
export function App({ config }: { config: AppConfig }) {
  const supabase: SupabaseClient = useMemo(() => createClient(config.url, config.anonKey), [config]);
  const queryClient = useMemo(
    () => new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } }),
    [],
  );
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    void supabase.auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = supabase.auth.onAuthStateChange((_event, next) => setSession(next));
    return () => data.subscription.unsubscribe();
  }, [supabase]);
  // A token for another user or agency must not show the previous one's cached rows.
  useEffect(() => {
    if (!session) queryClient.clear();
  }, [session, queryClient]);

  let screen;
  if (session === undefined) screen = <p className="p-8" role="status">Loading…</p>;
  else if (session === null) screen = <AuthScreen />;
  else if (!activeAgencyId(session)) screen = <AgencySetup />;
  else screen = <Shell themeToggle={<ThemeToggle />} />;
  return (
    <AuthContext.Provider value={{ supabase, session: session ?? null }}>
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>{screen}</BrowserRouter>
      </QueryClientProvider>
    </AuthContext.Provider>
  );
}
