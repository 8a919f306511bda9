import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { api } from "@/lib/api";
import { useAuth } from "@/lib/supabase";

type Agency = { id: string; name: string; slug: string; role: string };

/** A signed-in user whose token carries no agency: make them one (their first sign-in), or, when they
 * already belong to some, make the first one active. Either way the session is then refreshed, since the
 * agency travels in the token. */
export function AgencySetup() {
  const { supabase } = useAuth();
  const [name, setName] = useState("");
  const agencies = useQuery({
    queryKey: ["agencies"],
    queryFn: () => api<Agency[]>(supabase, "/api/v1/agencies"),
  });
  const create = useMutation({
    mutationFn: async (agencyName: string) => {
      await api<Agency>(supabase, "/api/v1/agencies", { method: "POST", body: { name: agencyName } });
      const { error } = await supabase.auth.refreshSession();
      if (error) throw error;
    },
  });
  const existing = agencies.data?.[0];
  useEffect(() => {
    if (!existing) return;
    void api(supabase, `/api/v1/agencies/${existing.id}/switch`, { method: "POST" }).then(() =>
      supabase.auth.refreshSession(),
    );
  }, [existing, supabase]);

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(name);
  }

  if (agencies.isPending || existing) {
    return <p className="p-8" role="status">Loading your agency…</p>;
  }
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <Card className="w-full max-w-sm">
        <CardHeader>
          <CardTitle>Create your agency</CardTitle>
          <p className="text-sm text-muted-foreground">
            Your leads, clients and pipeline live in an agency; invite your team to it later.
          </p>
        </CardHeader>
        <CardContent>
          <form className="flex flex-col gap-4" onSubmit={submit} aria-label="Create your agency">
            <div className="flex flex-col gap-2">
              <Label htmlFor="agency-name">Agency name</Label>
              <Input
                id="agency-name"
                required
                maxLength={200}
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            </div>
            {(create.error ?? agencies.error) && (
              <p role="alert" className="text-sm text-destructive">
                {(create.error ?? agencies.error)?.message}
              </p>
            )}
            <Button type="submit" disabled={create.isPending}>
              Create agency
            </Button>
          </form>
        </CardContent>
      </Card>
    </main>
  );
}
