import type { ColumnDef } from "@tanstack/react-table";
import { Link } from "react-router";
import { NativeSelect } from "@/components/ui/select";
import {
  fieldLabel,
  fullName,
  LEAD_STATUSES,
  type Definitions,
  type Lead,
  type LeadChanges,
  type LeadStatus,
  type Member,
  type Sort,
} from "../api/leads";
import { EditableText } from "./EditableText";

export type ColumnMeta = {
  label: string;
  /** The orders a click on the header goes through, first to second. */
  sorts?: [Sort, Sort | null];
};

type Context = {
  members: Member[];
  definitions: Definitions | undefined;
  save: (lead: Lead, changes: LeadChanges) => void;
};

function text(key: keyof Lead & string, label: string, save: Context["save"], type: "text" | "email" = "text"): ColumnDef<Lead> {
  return {
    id: key,
    meta: { label } satisfies ColumnMeta,
    cell: ({ row }) => (
      <EditableText
        value={(row.original[key] as string | null) ?? ""}
        type={type}
        label={`${label} of ${fullName(row.original)}`}
        onSave={(next) => save(row.original, { [key]: next.trim() || null })}
      />
    ),
  };
}

/** The leads table's columns: selection, the lead's own fields (most of them editable in place), then the
 * agency's custom fields. Data, columns and toolbar apart, as shadcn's tasks example has them. */
export function leadColumns({ members, definitions, save }: Context): ColumnDef<Lead>[] {
  const emails = new Map(members.map((m) => [m.user_id, m.email]));
  const custom: ColumnDef<Lead>[] = Object.entries(definitions?.leads ?? {}).map(([name, definition]) => ({
    id: `cf:${name}`,
    meta: { label: fieldLabel(name, definition) } satisfies ColumnMeta,
    cell: ({ row }) => {
      const value = row.original.custom_fields[name];
      return value === undefined || value === null ? "" : String(value);
    },
  }));
  return [
    {
      id: "select",
      enableHiding: false,
      header: ({ table }) => (
        <input
          type="checkbox"
          aria-label="Select all leads shown"
          checked={table.getIsAllRowsSelected()}
          ref={(el) => {
            if (el) el.indeterminate = table.getIsSomeRowsSelected();
          }}
          onChange={table.getToggleAllRowsSelectedHandler()}
        />
      ),
      cell: ({ row }) => (
        <input
          type="checkbox"
          aria-label={`Select ${fullName(row.original)}`}
          checked={row.getIsSelected()}
          onChange={row.getToggleSelectedHandler()}
        />
      ),
    },
    {
      id: "name",
      enableHiding: false,
      meta: { label: "Name", sorts: ["last_name", null] } satisfies ColumnMeta,
      cell: ({ row }) => (
        <Link className="font-medium whitespace-nowrap underline-offset-4 hover:underline" to={`/leads/${row.original.id}`} tabIndex={-1}>
          {fullName(row.original)}
        </Link>
      ),
    },
    text("company", "Company", save),
    text("email", "Email", save, "email"),
    text("phone", "Phone", save),
    {
      id: "status",
      meta: { label: "Status" } satisfies ColumnMeta,
      cell: ({ row }) => (
        <NativeSelect
          aria-label={`Status of ${fullName(row.original)}`}
          className="h-7"
          value={row.original.status}
          onChange={(e) => save(row.original, { status: e.target.value as LeadStatus })}
          onKeyDown={(e) => e.stopPropagation()}
        >
          {LEAD_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </NativeSelect>
      ),
    },
    text("source", "Source", save),
    {
      id: "owner",
      meta: { label: "Owner" } satisfies ColumnMeta,
      cell: ({ row }) => (
        <NativeSelect
          aria-label={`Owner of ${fullName(row.original)}`}
          className="h-7 max-w-44"
          value={row.original.owner_id ?? ""}
          onChange={(e) => save(row.original, { owner_id: e.target.value || null })}
          onKeyDown={(e) => e.stopPropagation()}
        >
          <option value="">Nobody</option>
          {row.original.owner_id && !emails.has(row.original.owner_id) && (
            <option value={row.original.owner_id}>A former member</option>
          )}
          {members.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.email}
            </option>
          ))}
        </NativeSelect>
      ),
    },
    {
      id: "tags",
      meta: { label: "Tags" } satisfies ColumnMeta,
      cell: ({ row }) => (
        <ul className="flex flex-wrap gap-1" aria-label={`Tags of ${fullName(row.original)}`}>
          {row.original.tags.map((tag) => (
            <li key={tag} className="rounded bg-muted px-1.5 text-xs">
              {tag}
            </li>
          ))}
        </ul>
      ),
    },
    {
      id: "score",
      meta: { label: "Score", sorts: ["-score", "score"] } satisfies ColumnMeta,
      cell: ({ row }) => (
        <EditableText
          type="number"
          value={row.original.score === null ? "" : String(row.original.score)}
          label={`Score of ${fullName(row.original)}`}
          onSave={(next) => save(row.original, { score: next.trim() === "" ? null : Number(next) })}
        />
      ),
    },
    text("city", "City", save),
    text("country", "Country", save),
    {
      id: "created",
      meta: { label: "Created", sorts: ["-created_at", "created_at"] } satisfies ColumnMeta,
      cell: ({ row }) => (
        <time dateTime={row.original.created_at}>{new Date(row.original.created_at).toLocaleDateString()}</time>
      ),
    },
    ...custom,
  ];
}
