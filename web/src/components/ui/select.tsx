import type { SelectHTMLAttributes } from "react";
import { cn } from "@/lib/utils";

/** The native select, styled like Input: keyboard and screen readers get the platform's own control. */
export function NativeSelect({ className, ...props }: SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <select
      className={cn(
        "flex h-9 rounded-md border border-input bg-background px-2 py-1 text-sm shadow-sm " +
          "focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none disabled:opacity-50",
        className,
      )}
      {...props}
    />
  );
}
