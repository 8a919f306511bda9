import type { Session, SupabaseClient } from "@supabase/supabase-js";
import { createContext, useContext } from "react";

export type Auth = { supabase: SupabaseClient; session: Session | null };

export const AuthContext = createContext<Auth | null>(null);

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside <AuthContext>");
  return auth;
}

/** The agency the token carries (GardenOS writes it into app_metadata); none before the first one exists. */
export function activeAgencyId(session: Session | null): string | null {
  const id: unknown = session?.user.app_metadata.agency_id;
  return typeof id === "string" ? id : null;
}
