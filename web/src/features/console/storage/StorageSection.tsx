import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function StorageSection() {
  return <ScreenPlaceholder title="Storage" />;
}
