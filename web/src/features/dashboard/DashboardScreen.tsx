import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function DashboardScreen() {
  return <ScreenPlaceholder title="Dashboard" />;
}
