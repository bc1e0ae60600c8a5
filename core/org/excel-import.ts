// Reading an uploaded import workbook (the roster, the organisation tree): the file is checked by its bytes, the header
// is found among the first rows and mapped to known columns, and the data rows come back as plain cell values. Each
// import keeps its own error codes ("<prefix>_FILE_INVALID", "_FILE_UNREADABLE", "_EMPTY", "_HEADER_INVALID", "_TOO_LARGE") and wording.
import ExcelJS from "exceljs";
import { AppError } from "../kernel/errors.ts";

export interface RawRow<K extends string> {
  /** The Excel row number, as the user sees it. */
  row: number;
  cells: Partial<Record<K, unknown>>;
}

export interface SheetSpec<K extends string> {
  /** "ROSTER" or "ORG_IMPORT": the stem of the error codes (each has its own entries in the catalog). */
  codePrefix: "ROSTER" | "ORG_IMPORT";
  /** "名单模板", "组织架构模板": what the messages tell the user to fill in. */
  template: string;
  /** What goes in the rows, for the empty-sheet message ("党员信息", "单位"). */
  contents: string;
  /** Header text → column key (aliases and decorations such as "*" or "（必填）" handled by the caller). */
  columnOf(header: string): K | undefined;
  /** The key whose presence marks the header row. */
  headerKey: K;
  /** Column titles in template order, for messages. */
  titles: Record<K, string>;
  order: K[];
  required: K[];
  maxRows: number;
  /** Said when the file has more than maxRows rows: how to split it. */
  splitHint: string;
  /** Columns that alone do not make a row (a note on an otherwise empty line). */
  notContent?: K[];
  /** Rows left out before counting (the template's example); their row numbers come back in `skipped`. */
  skip?: (cells: Partial<Record<K, unknown>>) => boolean;
}

/** How many rows from the top may hold the header (a title line above it is common). */
const HEADER_SEARCH_ROWS = 5;

const isZip = (d: Buffer) => d.length >= 4 && d[0] === 0x50 && d[1] === 0x4b && d[2] === 0x03 && d[3] === 0x04;
const isOle = (d: Buffer) => d.length >= 8 && d.subarray(0, 8).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]));

/** A cell's value without exceljs's wrappers (rich text, hyperlinks, formulas); null when empty. */
export function plainValue(v: ExcelJS.CellValue): unknown {
  if (v == null) return null;
  if (v instanceof Date || typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "object") {
    if ("richText" in v && Array.isArray(v.richText)) return v.richText.map((r) => r.text).join("");
    if ("formula" in v || "sharedFormula" in v) return plainValue((v as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue);
    if ("text" in v && typeof (v as { text: unknown }).text === "string") return (v as { text: string }).text;
    if ("error" in v) return null;
  }
  return null;
}

/** A cell as trimmed text (dates as YYYY-MM-DD, no-break and ideographic spaces as spaces). */
export const cellText = (v: unknown): string => {
  if (v == null) return "";
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  return String(v).replace(/\u00a0|\u3000/g, " ").trim();
};

/** The first sheet's data rows under its header; refuses what is not a readable .xlsx, a bad header and too many rows. */
export async function readImportSheet<K extends string>(bytes: Buffer, spec: SheetSpec<K>): Promise<{ sheet: string; rows: RawRow<K>[]; ignoredColumns: string[]; skipped: number[] }> {
  // Not an .xlsx at all is 415 (…_FILE_INVALID); an .xlsx that cannot be read is 400 (…_FILE_UNREADABLE).
  const fileInvalid = (message: string) => new AppError(`${spec.codePrefix}_FILE_INVALID`, message);
  const fileUnreadable = (message: string) => new AppError(`${spec.codePrefix}_FILE_UNREADABLE`, message);
  if (bytes.length === 0) throw fileUnreadable("上传的文件是空的，请重新选择文件。");
  if (isOle(bytes)) throw fileInvalid("暂不支持旧版 Excel（.xls）文件，请在 Excel 中“另存为” .xlsx 格式后再上传。");
  if (!isZip(bytes)) throw fileInvalid(`上传的文件不是 Excel（.xlsx）文件，请使用${spec.template}填写后上传。`);
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch {
    throw fileUnreadable("无法读取该 Excel 文件，文件可能已损坏，请用 Excel 打开确认后另存为 .xlsx 再上传。");
  }
  const ws = wb.worksheets[0];
  if (!ws) throw fileUnreadable(`该 Excel 文件中没有工作表，请使用${spec.template}填写后上传。`);
  if (ws.actualRowCount === 0) throw new AppError(`${spec.codePrefix}_EMPTY`, `第一个工作表是空的，请在${spec.template}中填写${spec.contents}后再上传。`);

  let headerRow = 0;
  const columnAt = new Map<number, K>();
  const ignoredColumns: string[] = [];
  for (let r = 1; r <= Math.min(HEADER_SEARCH_ROWS, Math.max(ws.rowCount, 1)); r++) {
    const found = new Map<number, K>();
    const others: string[] = [];
    ws.getRow(r).eachCell((cell, col) => {
      const text = cellText(plainValue(cell.value));
      if (!text) return;
      const key = spec.columnOf(text);
      if (key) found.set(col, key);
      else others.push(text);
    });
    if ([...found.values()].includes(spec.headerKey)) {
      headerRow = r;
      for (const [col, key] of found) columnAt.set(col, key);
      ignoredColumns.push(...others);
      break;
    }
  }
  const present = [...columnAt.values()];
  const expected = spec.order.map((k) => spec.titles[k]);
  const missing = spec.required.filter((k) => !present.includes(k)).map((k) => spec.titles[k]);
  if (missing.length) {
    throw new AppError(`${spec.codePrefix}_HEADER_INVALID`, `表头缺少必填列：${missing.join("、")}。请使用${spec.template}，第一行为表头（${expected.join("、")}）。`, { missing, expected });
  }
  const repeated = present.filter((k, i) => present.indexOf(k) !== i);
  if (repeated.length) {
    const names = [...new Set(repeated)].map((k) => spec.titles[k]);
    throw new AppError(`${spec.codePrefix}_HEADER_INVALID`, `表头中有重复的列：${names.join("、")}，请每列只保留一个。`, { duplicated: names });
  }

  const rows: RawRow<K>[] = [];
  const skipped: number[] = [];
  for (let r = headerRow + 1; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    if (!row.hasValues) continue;
    const cells: RawRow<K>["cells"] = {};
    let any = false;
    for (const [col, key] of columnAt) {
      const v = plainValue(row.getCell(col).value);
      if (v == null || (typeof v === "string" && cellText(v) === "")) continue;
      cells[key] = v;
      if (!spec.notContent?.includes(key)) any = true;
    }
    if (!any) continue;
    if (spec.skip?.(cells)) {
      skipped.push(r);
      continue;
    }
    rows.push({ row: r, cells });
    if (rows.length > spec.maxRows) {
      throw new AppError(`${spec.codePrefix}_TOO_LARGE`, `一次最多导入 ${spec.maxRows} 行，${spec.splitHint}`, { maxRows: spec.maxRows });
    }
  }
  return { sheet: ws.name, rows, ignoredColumns, skipped };
}
