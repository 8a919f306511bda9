import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function AuditSection() {
  return <ScreenPlaceholder title="Audit log" />;
}
