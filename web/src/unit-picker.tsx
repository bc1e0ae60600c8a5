// Cascading selects down the org tree from the user's own unit: the console never offers a unit outside the scope.
import { useEffect, useRef, useState } from "preact/hooks";
import { getAll, getSession, onSessionChange } from "./api.ts";
import { asApiError, toast } from "./ui.tsx";

interface Unit {
  id: number;
  name: string;
  kind: string;
  childCount: number;
}
const cache = new Map<number, Promise<Unit[]>>();
// A new login starts from its own answers, not the previous user's.
onSessionChange(() => cache.clear());
/** After the tree changed (a unit created, moved, renamed, imported): pickers ask again. */
export const forgetUnits = () => cache.clear();
function children(id: number) {
  let p = cache.get(id);
  if (!p) {
    p = getAll<Unit>(`/api/org/units/${id}/children`).then((items) => items.filter((u) => u.kind !== "PARTY_GROUP"));
    p.catch(() => cache.delete(id));
    cache.set(id, p);
  }
  return p;
}

const KIND_LABEL: Record<string, string> = { COUNTY: "区县", TOWN: "乡镇", VILLAGE: "村/社区", BRANCH: "支部" };

/**
 * `value` is the deepest chosen unit (null = the user's whole scope). `picking` is for picking one unit (an account's,
 * a new parent) rather than filtering: the empty choices then say that the level above is the one taken
 * (`noneLabel` for the first level when nothing chosen means something else, e.g. 不改).
 */
export function UnitPicker({ onChange, label = "单位", testid, picking, noneLabel }: { onChange: (id: number | null, unit: Unit | null) => void; label?: string; testid?: string; picking?: boolean; noneLabel?: string }) {
  const rootUnit = getSession()!.unit;
  const root = rootUnit.id;
  const [chain, setChain] = useState<Unit[]>([]);
  const [levels, setLevels] = useState<Unit[][]>([]);
  useEffect(() => {
    children(root).then((c) => setLevels([c]), (e) => (setLevels([]), toast.error(asApiError(e))));
  }, [root]);
  // A slow answer for an earlier choice must not overwrite a later one.
  const seq = useRef(0);
  const choose = async (depth: number, id: string) => {
    const mine = ++seq.current;
    const unit = levels[depth]?.find((u) => String(u.id) === id) ?? null;
    const next = [...chain.slice(0, depth), ...(unit ? [unit] : [])];
    setChain(next);
    const last = next.length ? next[next.length - 1] : null;
    onChange(last?.id ?? null, last);
    const kids = unit && unit.childCount > 0 && unit.kind !== "BRANCH" ? await children(unit.id).catch((e) => (toast.error(e), [])) : [];
    if (mine !== seq.current) return;
    setLevels((lv) => [...lv.slice(0, depth + 1), ...(kids.length ? [kids] : [])]);
  };
  return (
    <span class="unit-picker" data-testid={testid}>
      <span class="field-label">{label}</span>
      {levels.map((opts, depth) => (
        <select key={depth} value={chain[depth] ? String(chain[depth].id) : ""} onChange={(e) => choose(depth, e.currentTarget.value)}>
          <option value="">
            {picking ? (depth === 0 ? (noneLabel ?? `${rootUnit.name}（本级）`) : `（就选${chain[depth - 1]?.name ?? "上一级"}）`) : depth === 0 ? "全部" : `全部${KIND_LABEL[opts[0]?.kind] ?? ""}`}
          </option>
          {opts.map((u) => (
            <option key={u.id} value={String(u.id)}>
              {u.name}
            </option>
          ))}
        </select>
      ))}
    </span>
  );
}
