import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function ClusterSection() {
  return <ScreenPlaceholder title="Cluster" />;
}
