import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function KeysSection() {
  return <ScreenPlaceholder title="API keys" />;
}
