// Schemas shared by several routes. Named ones (`.meta({ id })`) become components in the OpenAPI document.
import { z } from "zod";
import { CadreRole } from "../core/org/scope.ts";

export const CadreRoleSchema = z.enum(CadreRole).meta({ id: "CadreRole", description: "COUNTY_ADMIN > TOWN_ADMIN > BRANCH_SECRETARY > MEMBER" });
/** Inline rather than a nullable $ref: OpenAPI 3.1 generators turn that into an allOf no null can satisfy. */
export const NullableCadreRole = z.enum(CadreRole).nullable();

export const OrgKindSchema = z.enum(["COUNTY", "TOWN", "VILLAGE", "BRANCH", "PARTY_GROUP"]).meta({ id: "OrgKind" });

/** Timestamps travel as ISO 8601 strings; handlers call toISOString(). */
export const IsoDateTime = () => z.iso.datetime();

export const IdParams = z.object({
  id: z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" }).meta({ description: "ID" }),
});

export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100000).default(1).meta({ description: "页码，从 1 开始" }),
  pageSize: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "每页条数（1-100）" }),
});
