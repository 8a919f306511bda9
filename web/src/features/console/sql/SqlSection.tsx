import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function SqlSection() {
  return <ScreenPlaceholder title="SQL" />;
}
