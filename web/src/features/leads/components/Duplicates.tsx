import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { activeAgencyId, useAuth } from "@/lib/supabase";
import { duplicatesQuery, MERGEABLE, mergeLeads, type Duplicate } from "../api/lead-page";
import { fullName, type Lead } from "../api/leads";

function show(value: unknown): string {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

/** The two leads field by field; per field, the value to keep (this lead's by default, the other's where
 * this one has none). Tags are united and custom fields merged by the server without asking. */
function MergeDialog({ lead, duplicate, onClose }: { lead: Lead; duplicate: Duplicate; onClose: () => void }) {
  const { supabase } = useAuth();
  const client = useQueryClient();
  const other = duplicate.record;
  const differing = MERGEABLE.filter(([key]) => show(lead[key]) !== show(other[key]));
  const [prefer, setPrefer] = useState<Record<string, string>>(() =>
    Object.fromEntries(differing.map(([key]) => [key, show(lead[key]) === "—" ? other.id : lead.id])),
  );
  const merge = useMutation({
    // Converted leads keep their status: it is not the merge's to choose.
    mutationFn: () => mergeLeads(supabase, lead.id, other.id, prefer),
    onSuccess: () => {
      toast.success(`${fullName(other)} merged into this lead`);
      void client.invalidateQueries({ queryKey: ["leads"] });
      onClose();
    },
  });
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent className="max-w-3xl">
        <DialogTitle>Merge a duplicate into this lead</DialogTitle>
        <DialogDescription>
          Pick, for each field that differs, the value to keep. The other lead’s activities move here and it is
          removed; tags are combined.
        </DialogDescription>
        <table className="w-full text-sm">
          <caption className="sr-only">Fields of the two leads</caption>
          <thead>
            <tr className="border-b text-left">
              <th scope="col" className="p-2">
                Field
              </th>
              <th scope="col" className="p-2">
                This lead
              </th>
              <th scope="col" className="p-2">
                Duplicate
              </th>
            </tr>
          </thead>
          <tbody>
            {MERGEABLE.map(([key, label]) => {
              const differs = differing.some(([k]) => k === key);
              const pick = (id: string, value: unknown, who: string) =>
                differs ? (
                  <label className="flex items-center gap-2">
                    <input
                      type="radio"
                      name={`merge-${key}`}
                      checked={prefer[key] === id}
                      onChange={() => setPrefer({ ...prefer, [key]: id })}
                      aria-label={`Keep ${who}’s ${label.toLowerCase()}: ${show(value)}`}
                    />
                    {show(value)}
                  </label>
                ) : (
                  show(value)
                );
              return (
                <tr key={key} className="border-b">
                  <th scope="row" className="p-2 text-left font-medium">
                    {label}
                  </th>
                  <td className="p-2">{pick(lead.id, lead[key], "this lead")}</td>
                  <td className="p-2">{pick(other.id, other[key], "the duplicate")}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {merge.error && (
          <p role="alert" className="text-sm text-destructive">
            {merge.error.message}
          </p>
        )}
        <div className="flex gap-2">
          <Button onClick={() => merge.mutate()} disabled={merge.isPending}>
            Merge into this lead
          </Button>
          <Button variant="outline" onClick={onClose}>
            Cancel
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}

/** Leads and clients that are probably the same person as this lead, best first; a lead can be merged in. */
export function Duplicates({ lead }: { lead: Lead }) {
  const { supabase, session } = useAuth();
  const duplicates = useQuery(duplicatesQuery(supabase, activeAgencyId(session), lead.id));
  const [merging, setMerging] = useState<Duplicate | null>(null);
  return (
    <section aria-labelledby="duplicates-title" className="flex flex-col gap-2">
      <h2 id="duplicates-title" className="text-lg font-semibold">
        Possible duplicates
      </h2>
      {duplicates.error && (
        <p role="alert" className="text-sm text-destructive">
          {duplicates.error.message}
        </p>
      )}
      {duplicates.data?.length === 0 && <p className="text-sm text-muted-foreground">None found.</p>}
      <ul className="flex flex-col gap-2">
        {duplicates.data?.map((d) => {
          const name = fullName(d.record);
          return (
            <li key={`${d.kind}:${d.id}`} className="flex flex-col gap-1 rounded-md border p-3 text-sm">
              <div className="flex flex-wrap items-center justify-between gap-2">
                {d.kind === "lead" ? (
                  <Link className="font-medium underline-offset-4 hover:underline" to={`/leads/${d.id}`}>
                    {name}
                  </Link>
                ) : (
                  <span className="font-medium">{name} (client)</span>
                )}
                <span className="text-muted-foreground">
                  {d.same_person ? "Same person" : "Possible"} · {Math.round(d.score * 100)}%
                </span>
              </div>
              <p className="text-muted-foreground">{d.reasons.join("; ")}</p>
              {d.kind === "lead" && (
                <Button variant="outline" size="sm" className="self-start" onClick={() => setMerging(d)}>
                  Compare and merge {name}
                </Button>
              )}
            </li>
          );
        })}
      </ul>
      {merging && <MergeDialog lead={lead} duplicate={merging} onClose={() => setMerging(null)} />}
    </section>
  );
}
