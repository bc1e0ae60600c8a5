// One-time 绑定码 for bringing groups online.
import type { ApiRouter } from "../validate.ts";

export function registerBindCodeRoutes(api: ApiRouter) {
  void api;
}
