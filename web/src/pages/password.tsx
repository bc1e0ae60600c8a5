// 修改密码: the forced first change after a one-time password (the console shows nothing else until it is done),
// and the same form from the menu for everyone. The policy is the API's; its Chinese refusal is shown as it is.
import { useState } from "preact/hooks";
import { changePassword, getSession, logout } from "../api.ts";
import { asApiError, toast } from "../ui.tsx";

export const PASSWORD_POLICY = "新密码 8-128 个字符，至少包含字母、数字、符号中的两种，不能包含用户名，也不能与原密码相同。";

export function PasswordForm({ first, onDone }: { first?: boolean; onDone?: () => void }) {
  const [oldPassword, setOld] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    // Typing the same thing twice is the only check made here; whether the password is good enough is the API's.
    if (next !== again) return setError("两次输入的新密码不一致，请重新输入。");
    setBusy(true);
    try {
      await changePassword(oldPassword, next);
      setOld("");
      setNext("");
      setAgain("");
      toast.ok(first ? "密码已设置，欢迎使用。以后请用新密码登录。" : "密码已修改。其他设备上的登录已失效，需要用新密码重新登录。");
      onDone?.();
    } catch (err) {
      setError(asApiError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form" onSubmit={submit} data-testid="password-form">
      <label class="field">
        <span class="field-label">{first ? "初始密码（管理员告诉您的一次性密码）" : "原密码"}</span>
        <input name="oldPassword" type="password" autoComplete="current-password" value={oldPassword} onInput={(e) => setOld(e.currentTarget.value)} required />
      </label>
      <label class="field">
        <span class="field-label">新密码</span>
        <input name="newPassword" type="password" autoComplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} required />
      </label>
      <label class="field">
        <span class="field-label">再次输入新密码</span>
        <input name="newPassword2" type="password" autoComplete="new-password" value={again} onInput={(e) => setAgain(e.currentTarget.value)} required />
      </label>
      <p class="field-hint">{PASSWORD_POLICY}</p>
      {error && (
        <div class="error-box" data-testid="password-error">
          {error}
        </div>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "正在修改…" : "修改密码"}
      </button>
    </form>
  );
}

/** The only screen of a login that still has its one-time password. */
export function FirstPasswordPage() {
  const s = getSession()!;
  return (
    <div class="login-wrap">
      <div class="card login" data-testid="first-password">
        <h1>首次登录请修改密码</h1>
        <p class="muted">
          {s.user.displayName}（{s.user.username}），您正在使用一次性初始密码。为了账号安全，请先设置自己的密码，之后才能使用控制台。
        </p>
        <PasswordForm first />
        <button class="link" onClick={() => logout()}>
          退出登录
        </button>
      </div>
    </div>
  );
}

/** 修改密码 from the top bar, for everyone. */
export function PasswordPage() {
  return (
    <div class="page narrow">
      <section class="card">
        <PasswordForm onDone={() => (location.hash = "#/dashboard")} />
      </section>
    </div>
  );
}
