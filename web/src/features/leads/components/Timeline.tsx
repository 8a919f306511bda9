import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/select";
import { activeAgencyId, useAuth } from "@/lib/supabase";
import {
  ACTIVITY_KINDS,
  addActivity,
  completeActivity,
  timelineQuery,
  type ActivityKind,
  type AuditEntry,
  type TimelineItem,
} from "../api/lead-page";

const KIND_LABEL: Record<ActivityKind, string> = {
  note: "Note",
  call: "Call",
  email: "Email",
  meeting: "Meeting",
  task: "Task",
};
// Columns every change touches: naming them says nothing.
const QUIET = new Set(["updated_at", "search_vector", "name_key", "company_key", "email_normalized", "phone_normalized"]);

function describe(audit: AuditEntry): string {
  if (!audit.before) return "Lead created";
  if (!audit.after) return "Lead deleted";
  const changed = Object.keys(audit.after).filter(
    (key) => !QUIET.has(key) && JSON.stringify(audit.after?.[key]) !== JSON.stringify(audit.before?.[key]),
  );
  return changed.length ? `Changed ${changed.join(", ").replaceAll("_", " ")}` : "Lead updated";
}

function When({ at }: { at: string }) {
  return (
    <time className="text-xs text-muted-foreground" dateTime={at}>
      {new Date(at).toLocaleString()}
    </time>
  );
}

function Entry({ item, onComplete }: { item: TimelineItem; onComplete: (id: string) => void }) {
  if (item.activity) {
    const a = item.activity;
    return (
      <li className="flex flex-col gap-1 rounded-md border p-3">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <span className="text-sm font-medium">
            {KIND_LABEL[a.kind]}
            {a.subject ? `: ${a.subject}` : ""}
            {a.kind === "task" && <span className="ml-2 text-xs text-muted-foreground">({a.status})</span>}
          </span>
          <When at={item.at} />
        </div>
        {a.body && <p className="text-sm whitespace-pre-wrap">{a.body}</p>}
        {a.kind === "task" && a.status === "planned" && (
          <Button variant="outline" size="sm" className="self-start" onClick={() => onComplete(a.id)}>
            Mark done{a.subject ? `: ${a.subject}` : ""}
          </Button>
        )}
      </li>
    );
  }
  return (
    <li className="flex flex-wrap items-center justify-between gap-2 px-3 text-sm text-muted-foreground">
      <span>{item.audit ? describe(item.audit) : "Change"}</span>
      <When at={item.at} />
    </li>
  );
}

/** What happened with the lead, newest first: its activities and the changes to it; and a form to add a
 * note, call, email, meeting or task. */
export function Timeline({ leadId }: { leadId: string }) {
  const { supabase, session } = useAuth();
  const client = useQueryClient();
  const timeline = useInfiniteQuery(timelineQuery(supabase, activeAgencyId(session), leadId));
  const [kind, setKind] = useState<ActivityKind>("note");
  const [subject, setSubject] = useState("");
  const [body, setBody] = useState("");
  const [due, setDue] = useState("");
  const refresh = () => void client.invalidateQueries({ queryKey: ["leads"] });
  const add = useMutation({
    mutationFn: () =>
      addActivity(supabase, leadId, {
        kind,
        ...(subject.trim() && { subject: subject.trim() }),
        ...(body.trim() && { body: body.trim() }),
        ...(kind === "task" && due && { due_at: new Date(due).toISOString() }),
      }),
    onSuccess: () => {
      toast.success(`${KIND_LABEL[kind]} added`);
      setSubject("");
      setBody("");
      setDue("");
      refresh();
    },
  });
  const complete = useMutation({
    mutationFn: (id: string) => completeActivity(supabase, id),
    onSuccess: refresh,
    onError: (error) => toast.error(error.message),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  const items = timeline.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section aria-labelledby="timeline-title" className="flex flex-col gap-3">
      <h2 id="timeline-title" className="text-lg font-semibold">
        Timeline
      </h2>
      <form onSubmit={submit} aria-label="Add an activity" className="flex flex-col gap-2 rounded-md border p-3">
        <div className="flex flex-wrap gap-2">
          <div className="flex flex-col gap-1">
            <Label htmlFor="activity-kind">Kind</Label>
            <NativeSelect id="activity-kind" value={kind} onChange={(e) => setKind(e.target.value as ActivityKind)}>
              {ACTIVITY_KINDS.map((k) => (
                <option key={k} value={k}>
                  {KIND_LABEL[k]}
                </option>
              ))}
            </NativeSelect>
          </div>
          <div className="flex min-w-40 flex-1 flex-col gap-1">
            <Label htmlFor="activity-subject">Subject</Label>
            <Input id="activity-subject" maxLength={200} value={subject} onChange={(e) => setSubject(e.target.value)} />
          </div>
          {kind === "task" && (
            <div className="flex flex-col gap-1">
              <Label htmlFor="activity-due">Due</Label>
              <Input id="activity-due" type="datetime-local" value={due} onChange={(e) => setDue(e.target.value)} />
            </div>
          )}
        </div>
        <Label htmlFor="activity-body">Details</Label>
        <textarea
          id="activity-body"
          rows={3}
          className="rounded-md border border-input bg-background px-3 py-2 text-sm focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
          value={body}
          onChange={(e) => setBody(e.target.value)}
        />
        {add.error && (
          <p role="alert" className="text-sm text-destructive">
            {add.error.message}
          </p>
        )}
        <Button type="submit" className="self-start" disabled={add.isPending}>
          Add {KIND_LABEL[kind].toLowerCase()}
        </Button>
      </form>
      {timeline.error && (
        <p role="alert" className="text-sm text-destructive">
          {timeline.error.message}
        </p>
      )}
      <ol className="flex flex-col gap-2" aria-label="Activities and changes">
        {items.map((item) => (
          <Entry
            key={item.activity ? `a:${item.activity.id}` : `c:${item.audit?.id ?? item.at}`}
            item={item}
            onComplete={(id) => complete.mutate(id)}
          />
        ))}
      </ol>
      {timeline.hasNextPage && (
        <Button variant="outline" className="self-center" onClick={() => void timeline.fetchNextPage()}>
          Older entries
        </Button>
      )}
    </section>
  );
}
