import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function AgentsSection() {
  return <ScreenPlaceholder title="AI agents" />;
}
