import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function UsersSection() {
  return <ScreenPlaceholder title="Auth users" />;
}
