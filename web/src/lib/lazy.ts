import { lazy, type ComponentType } from "react";

/** A component loaded as its own chunk when first rendered, from a module's named export. */
export const lazyNamed = <K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) =>
  lazy(() => load().then((m) => ({ default: m[name] })));
