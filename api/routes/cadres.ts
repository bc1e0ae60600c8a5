// Cadre console accounts.
import type { ApiRouter } from "../validate.ts";

export function registerCadreRoutes(api: ApiRouter) {
  void api;
}
