import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type RowSelectionState,
  type Updater,
  type VisibilityState,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useNavigate } from "react-router";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuCheckboxItem,
  DropdownMenuContent,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Table, TableBody, TableCaption, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { activeAgencyId, useAuth } from "@/lib/supabase";
import {
  customFieldsQuery,
  EMPTY_VIEW,
  leadsQuery,
  membersQuery,
  updateLead,
  type Lead,
  type LeadChanges,
  type LeadFilters as Filters,
  type ViewState,
} from "../api/leads";
import { useDebounced } from "@/lib/useDebounced";
import { deleteWithUndo, patchCachedLeads, pendingDeletes } from "../cache";
import { BulkActions } from "./BulkActions";
import { leadColumns, type ColumnMeta } from "./columns";
import { LeadFilters } from "./LeadFilters";
import { NewLeadDialog } from "./NewLeadDialog";
import { SavedViews } from "./SavedViews";

/** Past this many loaded rows only those in sight are in the page (100,000 leads stay fluid). */
const VIRTUALIZE_FROM = 150;
const ROW_HEIGHT = 41;

/** The agency's leads: filters, search and order asked of the server, a page at a time (keyset), selection
 * and bulk actions, edits in place, saved views, and the keyboard (↑/↓ or j/k, Enter, Space). */
export function LeadsScreen() {
  const { supabase, session } = useAuth();
  const agencyId = activeAgencyId(session);
  const client = useQueryClient();
  const navigate = useNavigate();
  const [view, setView] = useState<ViewState>(EMPTY_VIEW);
  const { sort, hidden } = view;
  const filterState: Filters = useMemo(() => {
    const { sort: _sort, hidden: _hidden, ...filters } = view;
    void _sort;
    void _hidden;
    return { ...filters, q: filters.q.trim() };
  }, [view]);
  const filters = useDebounced(filterState, 300);
  // No order while searching: the server puts the best matches first.
  const effective = sort ?? (filters.q ? null : "-created_at");

  const memberList = useQuery(membersQuery(supabase, agencyId)).data;
  const members = useMemo(() => memberList ?? [], [memberList]);
  const definitions = useQuery(customFieldsQuery(supabase, agencyId)).data;
  const leads = useInfiniteQuery(leadsQuery(supabase, agencyId, filters, sort));
  const rows = useMemo(
    () => (leads.data?.pages.flatMap((page) => page.items) ?? []).filter((l) => !pendingDeletes.has(l.id)),
    [leads.data],
  );

  const [selection, setSelection] = useState<RowSelectionState>({});
  useEffect(() => setSelection({}), [filters, sort]);

  const columns = useMemo(() => {
    const save = (lead: Lead, changes: LeadChanges) => {
      updateLead(supabase, lead.id, changes).then(
        (saved) => patchCachedLeads(client, new Set([lead.id]), () => saved),
        (error: Error) => {
          toast.error(error.message);
          void client.invalidateQueries({ queryKey: ["leads"] });
        },
      );
    };
    return leadColumns({ members, definitions, save });
  }, [members, definitions, supabase, client]);
  const visibility: VisibilityState = Object.fromEntries(hidden.map((id) => [id, false]));
  // The table's API is read afresh each render here (nothing memoizes what it returns).
  // eslint-disable-next-line react-hooks/incompatible-library
  const table = useReactTable({
    data: rows,
    columns,
    getRowId: (lead) => lead.id,
    getCoreRowModel: getCoreRowModel(),
    state: { rowSelection: selection, columnVisibility: visibility },
    onRowSelectionChange: setSelection,
    onColumnVisibilityChange: (updater: Updater<VisibilityState>) => {
      const next = typeof updater === "function" ? updater(visibility) : updater;
      setView((v) => ({ ...v, hidden: Object.keys(next).filter((id) => next[id] === false) }));
    },
  });
  const selected = table.getSelectedRowModel().rows.map((r) => r.original);

  // Virtual rows once there are many: spacer rows above and below keep the scrollbar true.
  const scroller = useRef<HTMLDivElement>(null);
  const virtualize = rows.length > VIRTUALIZE_FROM;
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });
  const virtualRows = virtualize ? virtualizer.getVirtualItems() : [];
  const tableRows = table.getRowModel().rows;
  const shown = virtualize ? virtualRows.map((v) => ({ row: tableRows[v.index], index: v.index })) : tableRows.map((row, index) => ({ row, index }));
  const padTop = virtualize ? (virtualRows[0]?.start ?? 0) : 0;
  const padBottom = virtualize ? virtualizer.getTotalSize() - (virtualRows.at(-1)?.end ?? 0) : 0;
  const lastShown = virtualize ? (virtualRows.at(-1)?.index ?? 0) : -1;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = leads;
  useEffect(() => {
    // Scrolling near the end of what is loaded asks for the next page.
    if (virtualize && lastShown >= rows.length - 20 && hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [virtualize, lastShown, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  // Keyboard: one row is in the tab order; arrows move it.
  const [active, setActive] = useState(0);
  const focusRow = (index: number) => {
    const target = Math.max(0, Math.min(rows.length - 1, index));
    setActive(target);
    if (virtualize) virtualizer.scrollToIndex(target);
    requestAnimationFrame(() =>
      scroller.current?.querySelector<HTMLElement>(`tr[data-index="${target}"]`)?.focus(),
    );
  };
  const rowKeys = (event: KeyboardEvent<HTMLTableRowElement>, index: number, lead: Lead) => {
    if (event.target !== event.currentTarget) return;
    const moves: Record<string, number> = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: 10, PageUp: -10 };
    if (event.key in moves) focusRow(index + (moves[event.key] ?? 0));
    else if (event.key === "Home") focusRow(0);
    else if (event.key === "End") focusRow(rows.length - 1);
    else if (event.key === "Enter") void navigate(`/leads/${lead.id}`);
    else if (event.key === " " || event.key === "x") table.getRow(lead.id).toggleSelected();
    else if (event.key === "Delete") deleteWithUndo(supabase, client, [lead.id]);
    else return;
    event.preventDefault();
  };

  const search = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const slash = (event: globalThis.KeyboardEvent) => {
      const typing = event.target instanceof HTMLElement && event.target.closest("input, textarea, select, [contenteditable]");
      if (event.key === "/" && !typing) {
        event.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", slash);
    return () => window.removeEventListener("keydown", slash);
  }, []);

  function header(id: string, meta: ColumnMeta | undefined) {
    if (!meta?.sorts) return meta?.label ?? null;
    const [first, second] = meta.sorts;
    const isActive = effective === first || effective === second;
    const next = effective === first && second ? second : first;
    const direction = effective?.startsWith("-") ? "descending" : "ascending";
    return (
      <Button
        variant="ghost"
        size="sm"
        className="-ml-3"
        onClick={() => setView((v) => ({ ...v, sort: next }))}
        aria-label={`Sort by ${meta.label}${isActive ? ` (now ${direction})` : ""}`}
        data-column={id}
      >
        {meta.label}
        <span aria-hidden="true">{isActive ? (direction === "descending" ? "↓" : "↑") : ""}</span>
      </Button>
    );
  }

  return (
    <section className="flex flex-col gap-4" aria-labelledby="leads-title">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div className="flex items-center gap-3">
          <h1 id="leads-title" className="text-2xl font-semibold">
            Leads
          </h1>
          <NewLeadDialog />
        </div>
        <div className="flex w-full max-w-xs flex-col gap-1">
          <Label htmlFor="lead-search">Search leads</Label>
          <Input
            id="lead-search"
            ref={search}
            type="search"
            placeholder="Name, company or email ( / )"
            value={view.q}
            onChange={(e) => setView({ ...view, q: e.target.value })}
          />
        </div>
      </div>
      <LeadFilters
        filters={filterState}
        onChange={(next) => setView((v) => ({ ...v, ...next }))}
        members={members}
        definitions={definitions}
      />
      <div className="flex flex-wrap items-end justify-between gap-3">
        <SavedViews state={{ ...view, q: filterState.q }} onApply={setView} />
        <div className="flex gap-2">
          <Button variant="outline" size="sm" onClick={() => setView({ ...EMPTY_VIEW, hidden: view.hidden })}>
            Clear filters
          </Button>
          <DropdownMenu>
            <DropdownMenuTrigger asChild>
              <Button variant="outline" size="sm">
                Columns
              </Button>
            </DropdownMenuTrigger>
            <DropdownMenuContent align="end">
              {table
                .getAllLeafColumns()
                .filter((column) => column.getCanHide())
                .map((column) => (
                  <DropdownMenuCheckboxItem
                    key={column.id}
                    checked={column.getIsVisible()}
                    onSelect={(e) => e.preventDefault()}
                    onCheckedChange={(on) => column.toggleVisibility(on)}
                  >
                    {(column.columnDef.meta as ColumnMeta | undefined)?.label ?? column.id}
                  </DropdownMenuCheckboxItem>
                ))}
            </DropdownMenuContent>
          </DropdownMenu>
        </div>
      </div>
      {selected.length > 0 && (
        <BulkActions selected={selected} members={members} onDone={() => setSelection({})} />
      )}
      {leads.error && (
        <p role="alert" className="text-sm text-destructive">
          {leads.error.message}
        </p>
      )}
      <p className="text-xs text-muted-foreground" id="leads-keys">
        Keyboard: Tab into the table, ↑/↓ (or j/k) move, Enter opens, Space selects, Delete deletes (with undo), /
        searches, ⌘K or Ctrl+K opens the command menu.
      </p>
      <div ref={scroller} className="max-h-[70vh] overflow-auto rounded-md border">
        <Table aria-label="Leads" aria-describedby="leads-keys" aria-busy={leads.isFetching}>
          <TableCaption className="pb-2">
            {leads.isPending
              ? "Loading leads…"
              : `${rows.length} lead${rows.length === 1 ? "" : "s"} shown${hasNextPage ? " (more to load)" : ""}`}
          </TableCaption>
          <TableHeader className="sticky top-0 z-10 bg-background">
            {table.getHeaderGroups().map((group) => (
              <TableRow key={group.id}>
                {group.headers.map((h) => {
                  const meta = h.column.columnDef.meta as ColumnMeta | undefined;
                  const sorted =
                    meta?.sorts && (effective === meta.sorts[0] || effective === meta.sorts[1])
                      ? effective?.startsWith("-")
                        ? "descending"
                        : "ascending"
                      : undefined;
                  return (
                    <TableHead key={h.id} aria-sort={meta?.sorts ? (sorted ?? "none") : undefined}>
                      {h.column.id === "select" ? flexRender(h.column.columnDef.header, h.getContext()) : header(h.id, meta)}
                    </TableHead>
                  );
                })}
              </TableRow>
            ))}
          </TableHeader>
          <TableBody>
            {padTop > 0 && (
              <tr aria-hidden="true">
                <td style={{ height: padTop }} />
              </tr>
            )}
            {shown.map(({ row, index }) =>
              row ? (
                <TableRow
                  key={row.id}
                  data-index={index}
                  tabIndex={index === active ? 0 : -1}
                  onFocus={(e) => e.target === e.currentTarget && setActive(index)}
                  onKeyDown={(e) => rowKeys(e, index, row.original)}
                  className="focus-visible:bg-accent focus-visible:outline-2 focus-visible:outline-ring data-[state=selected]:bg-muted"
                  data-state={row.getIsSelected() ? "selected" : undefined}
                  aria-label={undefined}
                >
                  {row.getVisibleCells().map((cell) => (
                    <TableCell key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</TableCell>
                  ))}
                </TableRow>
              ) : null,
            )}
            {padBottom > 0 && (
              <tr aria-hidden="true">
                <td style={{ height: padBottom }} />
              </tr>
            )}
          </TableBody>
        </Table>
      </div>
      {hasNextPage && (
        <Button
          variant="outline"
          className="self-center"
          disabled={isFetchingNextPage}
          onClick={() => void fetchNextPage()}
        >
          {isFetchingNextPage ? "Loading…" : "Load more"}
        </Button>
      )}
    </section>
  );
}
