// Members of the roster.
import type { ApiRouter } from "../validate.ts";

export function registerMemberRoutes(api: ApiRouter) {
  void api;
}
