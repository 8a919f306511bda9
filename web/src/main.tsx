import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./index.css";
import { loadConfig } from "./lib/config";
import { applyTheme, initialTheme } from "./lib/theme";

applyTheme(initialTheme());
const root = createRoot(document.getElementById("root")!);
loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  (error: Error) => root.render(<p role="alert">{error.message}</p>),
);
