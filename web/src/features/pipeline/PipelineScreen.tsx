import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function PipelineScreen() {
  return <ScreenPlaceholder title="Pipeline" />;
}
