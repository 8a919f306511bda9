/** What the app needs to reach GardenOS, from `GET /app-config.json` (served by the API itself, so a new
 * anon key or URL needs no rebuild). */
export type AppConfig = { url: string; anonKey: string };

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch("/app-config.json");
  if (!response.ok) throw new Error(`GardenOS did not give its configuration (HTTP ${response.status})`);
  const body = (await response.json()) as { url: string | null; anon_key: string };
  // The app is served by the API it talks to: its own origin, unless the server names another.
  return { url: body.url ?? window.location.origin, anonKey: body.anon_key };
}
