import { useState } from "preact/hooks";
import { login, takeLoginNotice } from "../api.ts";
import { asApiError } from "../ui.tsx";

export function LoginPage() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(takeLoginNotice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
      if (!location.hash || location.hash === "#/") location.hash = "#/dashboard";
    } catch (err) {
      setError(asApiError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit}>
        <h1>支部建在网络上</h1>
        <p class="muted">干部管理控制台</p>
        <label class="field">
          <span class="field-label">账号</span>
          <input name="username" autoComplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        </label>
        <label class="field">
          <span class="field-label">密码</span>
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        {error && (
          <div class="error-box" data-testid="login-error">
            {error}
          </div>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "正在登录…" : "登录"}
        </button>
      </form>
    </div>
  );
}
