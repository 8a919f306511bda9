import { useState, type FormEvent } from "react";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuCheckboxItem,
  DropdownMenuContent,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/select";
import { fieldLabel, LEAD_STATUSES, type Definitions, type LeadFilters as Filters, type Member } from "../api/leads";

function numberOrNull(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

/** The table's filters: status, source, owner, tags, score and the agency's custom fields. Each change
 * asks the server again (the filters are query parameters of /api/v1/leads). */
export function LeadFilters({
  filters,
  onChange,
  members,
  definitions,
}: {
  filters: Filters;
  onChange: (next: Filters) => void;
  members: Member[];
  definitions: Definitions | undefined;
}) {
  const [tag, setTag] = useState("");
  const set = (changes: Partial<Filters>) => onChange({ ...filters, ...changes });
  const addTag = (event: FormEvent) => {
    event.preventDefault();
    const t = tag.trim();
    if (t && !filters.tags.includes(t)) set({ tags: [...filters.tags, t] });
    setTag("");
  };
  const custom = Object.entries(definitions?.leads ?? {});
  return (
    <div className="flex flex-wrap items-end gap-3" role="group" aria-label="Filters">
      <div className="flex flex-col gap-1">
        <span className="text-sm font-medium" id="status-filter-label">
          Status
        </span>
        <DropdownMenu>
          <DropdownMenuTrigger asChild>
            <Button variant="outline" size="sm" aria-labelledby="status-filter-label status-filter-value">
              <span id="status-filter-value">{filters.status.length ? filters.status.join(", ") : "Any status"}</span>
            </Button>
          </DropdownMenuTrigger>
          <DropdownMenuContent>
            {LEAD_STATUSES.map((status) => (
              <DropdownMenuCheckboxItem
                key={status}
                checked={filters.status.includes(status)}
                onSelect={(e) => e.preventDefault()}
                onCheckedChange={(on) =>
                  set({ status: on ? [...filters.status, status] : filters.status.filter((s) => s !== status) })
                }
              >
                {status}
              </DropdownMenuCheckboxItem>
            ))}
          </DropdownMenuContent>
        </DropdownMenu>
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor="filter-source">Source</Label>
        <Input
          id="filter-source"
          className="h-8 w-32"
          value={filters.source}
          onChange={(e) => set({ source: e.target.value })}
        />
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor="filter-owner">Owner</Label>
        <NativeSelect
          id="filter-owner"
          className="h-8"
          value={filters.owner}
          onChange={(e) => set({ owner: e.target.value })}
        >
          <option value="">Anyone</option>
          {members.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.email}
            </option>
          ))}
        </NativeSelect>
      </div>
      <form className="flex flex-col gap-1" onSubmit={addTag}>
        <Label htmlFor="filter-tag">Tagged</Label>
        <div className="flex gap-1">
          <Input id="filter-tag" className="h-8 w-28" value={tag} onChange={(e) => setTag(e.target.value)} />
          <Button type="submit" variant="outline" size="sm">
            Add tag filter
          </Button>
        </div>
      </form>
      <div className="flex flex-col gap-1">
        <Label htmlFor="filter-score-min">Score from</Label>
        <Input
          id="filter-score-min"
          type="number"
          min={0}
          max={100}
          className="h-8 w-20"
          value={filters.scoreMin ?? ""}
          onChange={(e) => set({ scoreMin: numberOrNull(e.target.value) })}
        />
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor="filter-score-max">Score to</Label>
        <Input
          id="filter-score-max"
          type="number"
          min={0}
          max={100}
          className="h-8 w-20"
          value={filters.scoreMax ?? ""}
          onChange={(e) => set({ scoreMax: numberOrNull(e.target.value) })}
        />
      </div>
      {custom.map(([name, definition]) => {
        const id = `filter-cf-${name}`;
        const value = filters.custom[name] ?? "";
        const change = (next: string) => set({ custom: { ...filters.custom, [name]: next } });
        const choices = definition.type === "boolean" ? ["true", "false"] : definition.type === "select" ? definition.options : null;
        return (
          <div key={name} className="flex flex-col gap-1">
            <Label htmlFor={id}>{fieldLabel(name, definition)}</Label>
            {choices ? (
              <NativeSelect id={id} className="h-8" value={value} onChange={(e) => change(e.target.value)}>
                <option value="">Any</option>
                {choices.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </NativeSelect>
            ) : (
              <Input
                id={id}
                className="h-8 w-28"
                type={definition.type === "date" ? "date" : "text"}
                value={value}
                onChange={(e) => change(e.target.value)}
              />
            )}
          </div>
        );
      })}
      {filters.tags.length > 0 && (
        <ul className="flex flex-wrap gap-1" aria-label="Tag filters">
          {filters.tags.map((t) => (
            <li key={t}>
              <Button
                variant="outline"
                size="sm"
                aria-label={`Remove tag filter ${t}`}
                onClick={() => set({ tags: filters.tags.filter((x) => x !== t) })}
              >
                {t} ✕
              </Button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
