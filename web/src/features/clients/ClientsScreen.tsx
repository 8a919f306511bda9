import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function ClientsScreen() {
  return <ScreenPlaceholder title="Clients" />;
}
