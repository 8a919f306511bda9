import { ScreenPlaceholder } from "@/components/layout/ScreenPlaceholder";

export function MembersSection() {
  return <ScreenPlaceholder title="Members" />;
}
