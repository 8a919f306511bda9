import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function TasksScreen() {
  return <ScreenPlaceholder title="Tasks due today" />;
}
