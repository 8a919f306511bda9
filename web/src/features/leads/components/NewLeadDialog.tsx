import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useAuth } from "@/lib/supabase";
import { createLead, fullName } from "../api/leads";

const FIELDS = [
  ["first_name", "First name", "text"],
  ["last_name", "Last name", "text"],
  ["email", "Email", "email"],
  ["company", "Company", "text"],
  ["source", "Source", "text"],
] as const;

/** A new lead from a few fields; the rest are on its page. */
export function NewLeadDialog() {
  const { supabase } = useAuth();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const create = useMutation({
    mutationFn: () =>
      createLead(supabase, Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ""))),
    onSuccess: (lead) => {
      toast.success(`${fullName(lead)} added`);
      setValues({});
      setOpen(false);
      void client.invalidateQueries({ queryKey: ["leads"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        create.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button size="sm">New lead</Button>
      </DialogTrigger>
      <DialogContent>
        <DialogTitle>New lead</DialogTitle>
        <DialogDescription>A name, an email or a company is enough to start.</DialogDescription>
        <form className="flex flex-col gap-3" onSubmit={submit} aria-label="New lead">
          {FIELDS.map(([name, label, type]) => (
            <div key={name} className="flex flex-col gap-1">
              <Label htmlFor={`new-${name}`}>{label}</Label>
              <Input
                id={`new-${name}`}
                type={type}
                value={values[name] ?? ""}
                onChange={(e) => setValues({ ...values, [name]: e.target.value })}
              />
            </div>
          ))}
          {create.error && (
            <p role="alert" className="text-sm text-destructive">
              {create.error.message}
            </p>
          )}
          <Button type="submit" disabled={create.isPending}>
            Add lead
          </Button>
        </form>
      </DialogContent>
    </Dialog>
  );
}
