import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function TableEditorSection() {
  return <ScreenPlaceholder title="Table editor" />;
}
