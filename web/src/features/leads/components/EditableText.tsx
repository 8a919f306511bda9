import { useState, type KeyboardEvent } from "react";
import { Input } from "@/components/ui/input";

/** A cell's value that turns into an input on click or Enter: Enter or leaving the field saves, Escape
 * puts the value back. `label` names the field for screen readers ("Company of Ada Lovelace"). */
export function EditableText({
  value,
  label,
  type = "text",
  onSave,
}: {
  value: string;
  label: string;
  type?: "text" | "number" | "email";
  onSave: (next: string) => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  if (draft === null) {
    return (
      <button
        type="button"
        className="min-h-7 w-full rounded px-1 text-left hover:bg-accent focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
        aria-label={`Edit ${label}: ${value || "empty"}`}
        onClick={() => setDraft(value)}
      >
        {value || <span className="text-muted-foreground">—</span>}
      </button>
    );
  }
  const finish = () => {
    if (draft !== value) onSave(draft);
    setDraft(null);
  };
  const keys = (event: KeyboardEvent) => {
    // The row's own keys (arrows, Enter to open) must not act while typing.
    event.stopPropagation();
    if (event.key === "Enter") finish();
    if (event.key === "Escape") setDraft(null);
  };
  return (
    <Input
      autoFocus
      aria-label={label}
      type={type}
      className="h-7"
      value={draft}
      onChange={(e) => setDraft(e.target.value)}
      onKeyDown={keys}
      onBlur={finish}
    />
  );
}
