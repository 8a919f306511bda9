/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vite";

// No @vitejs/plugin-react: esbuild compiles TSX itself (tsconfig's "jsx": "react-jsx"), one dependency fewer.
export default defineConfig({
  plugins: [tailwindcss()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  // The budget is 300 KB gzipped of initial JavaScript (the entry chunk, ~181 KB gzipped); each screen is a
  // lazy chunk of its own (React.lazy in Shell.tsx).
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      // React Server Components' "use client" markers mean nothing in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  // `npm run dev` beside `gardenos up` on :8000: every API prefix goes to it.
  server: {
    proxy: Object.fromEntries(
      ["/auth", "/rest", "/api", "/ai", "/realtime", "/storage", "/ready", "/app-config.json"].map((p) => [
        p,
        "http://127.0.0.1:8000",
      ]),
    ),
  },
  test: { environment: "jsdom", include: ["src/**/*.test.tsx"] },
});
