import { useQuery } from "@tanstack/react-query";
import { Command } from "cmdk";
import { useEffect, useState } from "react";
import { useNavigate } from "react-router";
import { activeAgencyId, useAuth } from "@/lib/supabase";
import { useDebounced } from "@/lib/useDebounced";
import { searchQuery } from "./api";

export type MenuCommand = { label: string; run: () => void };

const item =
  "flex cursor-default items-center justify-between gap-2 rounded-sm px-2 py-1.5 text-sm select-none " +
  "data-[selected=true]:bg-accent";

/** ⌘K / Ctrl+K: go anywhere, run a command, or find a lead or client by meaning and words. */
export function CommandMenu({ commands }: { commands: MenuCommand[] }) {
  const { supabase, session } = useAuth();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const q = useDebounced(text.trim(), 250);
  const results = useQuery(searchQuery(supabase, activeAgencyId(session), q));
  useEffect(() => {
    const toggle = (event: KeyboardEvent) => {
      if (event.key.toLowerCase() === "k" && (event.metaKey || event.ctrlKey)) {
        event.preventDefault();
        setOpen((was) => !was);
      }
    };
    window.addEventListener("keydown", toggle);
    return () => window.removeEventListener("keydown", toggle);
  }, []);
  const close = () => {
    setOpen(false);
    setText("");
  };
  const matching = commands.filter((c) => c.label.toLowerCase().includes(text.trim().toLowerCase()));
  return (
    <Command.Dialog
      open={open}
      onOpenChange={(next) => (next ? setOpen(true) : close())}
      label="Command menu"
      shouldFilter={false}
      overlayClassName="fixed inset-0 z-50 bg-black/50"
      contentClassName="fixed top-24 left-1/2 z-50 w-[calc(100%-2rem)] max-w-lg -translate-x-1/2 rounded-lg border bg-background p-2 shadow-lg"
    >
      <Command.Input
        value={text}
        onValueChange={setText}
        placeholder="Type a command, or search leads and clients"
        className="h-10 w-full rounded-md border border-input bg-background px-3 text-sm focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
      />
      <Command.List className="mt-2 max-h-80 overflow-auto">
        {results.error && (
          <p role="alert" className="px-2 py-1 text-sm text-destructive">
            {results.error.message}
          </p>
        )}
        <Command.Empty className="px-2 py-1 text-sm text-muted-foreground">
          {results.isFetching ? "Searching…" : "Nothing found."}
        </Command.Empty>
        {matching.length > 0 && (
          <Command.Group heading="Commands" className="text-xs text-muted-foreground">
            {matching.map((c) => (
              <Command.Item
                key={c.label}
                value={`command:${c.label}`}
                className={item}
                onSelect={() => {
                  close();
                  c.run();
                }}
              >
                <span className="text-foreground">{c.label}</span>
              </Command.Item>
            ))}
          </Command.Group>
        )}
        {(results.data?.items.length ?? 0) > 0 && q && (
          <Command.Group heading="Leads and clients" className="text-xs text-muted-foreground">
            {results.data?.items.map((r) => (
              <Command.Item
                key={`${r.type}:${r.id}`}
                value={`${r.type}:${r.id}`}
                className={item}
                onSelect={() => {
                  close();
                  void navigate(r.type === "lead" ? `/leads/${r.id}` : `/clients`);
                }}
              >
                <span className="text-foreground">{r.title}</span>
                <span>{r.type}</span>
              </Command.Item>
            ))}
          </Command.Group>
        )}
      </Command.List>
    </Command.Dialog>
  );
}
