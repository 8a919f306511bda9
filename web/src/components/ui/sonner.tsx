import { Toaster as Sonner, type ToasterProps } from "sonner";

export function Toaster(props: ToasterProps) {
  const dark = document.documentElement.classList.contains("dark");
  return <Sonner theme={dark ? "dark" : "light"} closeButton richColors={false} {...props} />;
}
