import { useInfiniteQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import {
  Table,
  TableBody,
  TableCaption,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { api } from "@/lib/api";
import { activeAgencyId, useAuth } from "@/lib/supabase";

export type Lead = {
  id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  company: string | null;
  status: string;
  score: number | null;
  created_at: string;
};

type LeadPage = { items: Lead[]; next_cursor: string | null };

/** The sorts /api/v1/leads knows (its `sort` parameter); each column sorts by one key, both ways where the
 * server offers both. */
type Sort = "-created_at" | "created_at" | "-score" | "score" | "last_name";
type SortColumn = { label: string; sorts: [Sort, Sort | null] };
const SORTABLE: Record<"name" | "score" | "created", SortColumn> = {
  name: { label: "Name", sorts: ["last_name", null] },
  score: { label: "Score", sorts: ["-score", "score"] },
  created: { label: "Created", sorts: ["-created_at", "created_at"] },
};
const PAGE = 50;

export function leadsUrl(sort: Sort | null, q: string, cursor: string | null): string {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (sort) params.set("sort", sort);
  if (q) params.set("q", q);
  if (cursor) params.set("cursor", cursor);
  return `/api/v1/leads?${params}`;
}

export function fullName(lead: Lead): string {
  return [lead.first_name, lead.last_name].filter(Boolean).join(" ") || "(no name)";
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** The agency's leads, a page at a time (keyset: each page asks for the rows after the last one's cursor). */
export function Leads() {
  const { supabase, session } = useAuth();
  const [search, setSearch] = useState("");
  // No sort while searching: the server puts the best matches first.
  const [sort, setSort] = useState<Sort | null>(null);
  const q = useDebounced(search.trim(), 300);
  const leads = useInfiniteQuery({
    queryKey: ["leads", activeAgencyId(session), sort, q],
    queryFn: ({ pageParam }) => api<LeadPage>(supabase, leadsUrl(sort, q, pageParam)),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
  const rows = leads.data?.pages.flatMap((page) => page.items) ?? [];
  const effective = sort ?? (q ? null : "-created_at");

  function header(key: keyof typeof SORTABLE) {
    const { label, sorts } = SORTABLE[key];
    const [first, second] = sorts;
    const active = effective === first || effective === second;
    const next = effective === first && second ? second : first;
    const direction = effective === first ? (first.startsWith("-") ? "descending" : "ascending") : "ascending";
    return (
      <TableHead aria-sort={active ? direction : "none"}>
        <Button variant="ghost" size="sm" className="-ml-3" onClick={() => setSort(next)}>
          {label}
          <span aria-hidden="true">{active ? (direction === "descending" ? "↓" : "↑") : ""}</span>
        </Button>
      </TableHead>
    );
  }

  return (
    <section className="flex flex-col gap-4" aria-labelledby="leads-title">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <h1 id="leads-title" className="text-2xl font-semibold">
          Leads
        </h1>
        <div className="flex w-full max-w-xs flex-col gap-2">
          <Label htmlFor="lead-search">Search leads</Label>
          <Input
            id="lead-search"
            type="search"
            placeholder="Name, company or email"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
      </div>
      {leads.error && (
        <p role="alert" className="text-sm text-destructive">
          {leads.error.message}
        </p>
      )}
      <Table aria-label="Leads" aria-busy={leads.isFetching}>
        <TableCaption>
          {leads.isPending ? "Loading leads…" : `${rows.length} lead${rows.length === 1 ? "" : "s"} shown`}
        </TableCaption>
        <TableHeader>
          <TableRow>
            {header("name")}
            <TableHead>Company</TableHead>
            <TableHead>Email</TableHead>
            <TableHead>Status</TableHead>
            {header("score")}
            {header("created")}
          </TableRow>
        </TableHeader>
        <TableBody>
          {rows.map((lead) => (
            <TableRow key={lead.id}>
              <TableCell className="font-medium">{fullName(lead)}</TableCell>
              <TableCell>{lead.company}</TableCell>
              <TableCell>{lead.email}</TableCell>
              <TableCell>{lead.status}</TableCell>
              <TableCell>{lead.score ?? "—"}</TableCell>
              <TableCell>
                <time dateTime={lead.created_at}>{new Date(lead.created_at).toLocaleDateString()}</time>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {leads.hasNextPage && (
        <Button
          variant="outline"
          className="self-center"
          disabled={leads.isFetchingNextPage}
          onClick={() => void leads.fetchNextPage()}
        >
          {leads.isFetchingNextPage ? "Loading…" : "Load more"}
        </Button>
      )}
    </section>
  );
}
