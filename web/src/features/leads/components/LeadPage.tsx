import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { activeAgencyId, useAuth } from "@/lib/supabase";
import { convertLead } from "../api/lead-page";
import { customFieldsQuery, fullName, leadQuery, membersQuery, type Lead } from "../api/leads";
import { Duplicates } from "./Duplicates";
import { LeadFields } from "./LeadFields";
import { Timeline } from "./Timeline";

function ConvertButton({ lead }: { lead: Lead }) {
  const { supabase } = useAuth();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const convert = useMutation({
    mutationFn: () => convertLead(supabase, lead.id),
    onSuccess: () => {
      setOpen(false);
      toast.success(`${fullName(lead)} is now a client`);
      void client.invalidateQueries({ queryKey: ["leads"] });
    },
  });
  if (lead.converted_at) {
    return (
      <p className="text-sm text-muted-foreground" role="status">
        Converted to a client on {new Date(lead.converted_at).toLocaleDateString()}
      </p>
    );
  }
  return (
    <>
      <Button onClick={() => setOpen(true)}>Convert to client</Button>
      <Dialog open={open} onOpenChange={setOpen}>
        <DialogContent>
          <DialogTitle>Convert {fullName(lead)} to a client?</DialogTitle>
          <DialogDescription>
            A client is made from this lead’s fields and its activities join it; the lead stays, marked converted.
          </DialogDescription>
          {convert.error && (
            <p role="alert" className="text-sm text-destructive">
              {convert.error.message}
            </p>
          )}
          <div className="flex gap-2">
            <Button onClick={() => convert.mutate()} disabled={convert.isPending}>
              Convert
            </Button>
            <Button variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
          </div>
        </DialogContent>
      </Dialog>
    </>
  );
}

/** One lead: its fields (custom ones too) to edit, its timeline, its possible duplicates, converting it. */
export function LeadPage() {
  const { id = "" } = useParams();
  const { supabase, session } = useAuth();
  const agencyId = activeAgencyId(session);
  const lead = useQuery(leadQuery(supabase, agencyId, id));
  const definitions = useQuery(customFieldsQuery(supabase, agencyId)).data;
  const members = useQuery(membersQuery(supabase, agencyId)).data ?? [];
  if (lead.error) {
    return (
      <section className="flex flex-col gap-2">
        <Link to="/leads" className="text-sm underline-offset-4 hover:underline">
          ← Leads
        </Link>
        <p role="alert" className="text-destructive">
          {lead.error.message}
        </p>
      </section>
    );
  }
  if (!lead.data) return <p role="status">Loading the lead…</p>;
  const data = lead.data;
  return (
    <article className="flex flex-col gap-6" aria-labelledby="lead-title">
      <div className="flex flex-col gap-2">
        <Link to="/leads" className="text-sm underline-offset-4 hover:underline">
          ← Leads
        </Link>
        <div className="flex flex-wrap items-center justify-between gap-3">
          <h1 id="lead-title" className="text-2xl font-semibold">
            {fullName(data)}
          </h1>
          <ConvertButton lead={data} />
        </div>
        <p className="text-sm text-muted-foreground">
          {[data.status, data.company, data.score !== null ? `score ${data.score}` : null].filter(Boolean).join(" · ")}
        </p>
      </div>
      <div className="grid gap-8 lg:grid-cols-2">
        <section aria-labelledby="fields-title" className="flex flex-col gap-3">
          <h2 id="fields-title" className="text-lg font-semibold">
            Details
          </h2>
          <LeadFields key={data.id} lead={data} definitions={definitions} members={members} />
        </section>
        <div className="flex flex-col gap-8">
          <Timeline leadId={data.id} />
          <Duplicates lead={data} />
          <section aria-labelledby="ai-title" className="flex flex-col gap-1">
            <h2 id="ai-title" className="text-lg font-semibold">
              AI assistant
            </h2>
            <p className="text-sm text-muted-foreground">
              Scoring with reasons, next actions and follow-up drafts come here next; the API for them is /ai.
            </p>
          </section>
        </div>
      </div>
    </article>
  );
}
