import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function ImportScreen() {
  return <ScreenPlaceholder title="Import" />;
}
