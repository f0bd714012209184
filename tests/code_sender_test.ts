/**
 * SmtpCodeSender against a local SMTP server (simulated: it speaks enough of RFC 5321 to take
 * one message, and refuses recipients at `refused.example`), and the customer sign-in when a
 * code cannot be delivered.
 */
import assert from "node:assert/strict";
import { SmtpCodeSender } from "../cloud/auth/mod.ts";

/** A simulated SMTP server on loopback; `messages` holds what it accepted. */
function simulatedSmtp() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const messages: Array<{ from: string; to: string[]; data: string; auth: string | null }> = [];
  const encoder = new TextEncoder();
  const serve = async (conn: Deno.Conn) => {
    const say = (line: string) => conn.write(encoder.encode(`${line}\r\n`));
    let buffer = "";
    let from = "";
    let to: string[] = [];
    let auth: string | null = null;
    let inData = false;
    let dataLines: string[] = [];
    await say("220 simulated.smtp ESMTP");
    const reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\r\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          if (inData) {
            if (line === ".") {
              inData = false;
              messages.push({ from, to, data: dataLines.join("\n"), auth });
              dataLines = [];
              await say("250 OK queued");
            } else dataLines.push(line.startsWith("..") ? line.slice(1) : line);
            continue;
          }
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === "EHLO") await say("250-simulated.smtp\r\n250 AUTH PLAIN");
          else if (verb === "HELO") await say("250 simulated.smtp");
          else if (verb === "AUTH") {
            auth = atob(line.split(" ")[2] ?? "");
            await say("235 Authentication successful");
          } else if (verb === "MAIL") {
            from = /<([^>]*)>/.exec(line)?.[1] ?? "";
            to = [];
            await say("250 OK");
          } else if (verb === "RCPT") {
            const rcpt = /<([^>]*)>/.exec(line)?.[1] ?? "";
            if (rcpt.endsWith("@refused.example")) await say("550 No such user");
            else {
              to.push(rcpt);
              await say("250 OK");
            }
          } else if (verb === "DATA") {
            inData = true;
            await say("354 End data with <CR><LF>.<CR><LF>");
          } else if (verb === "QUIT") {
            await say("221 Bye");
            return;
          } else await say("250 OK");
        }
      }
    } catch {
      /* the client went away */
    } finally {
      try {
        conn.close();
      } catch { /* closed with its stream already */ }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) void serve(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    messages,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
    },
  };
}

Deno.test("SmtpCodeSender emails the code in the customer's language through the configured server", async () => {
  await using smtp = simulatedSmtp();
  const sender = new SmtpCodeSender(
    `smtp://codes%40vend.example:s3cret@127.0.0.1:${smtp.port}?from=codes@vend.example`,
    { timeoutMs: 5000 },
  );
  await sender.send("ada@example.com", { code: "123456", language: "es" });
  assert.equal(smtp.messages.length, 1);
  const m = smtp.messages[0]!;
  assert.equal(m.from, "codes@vend.example");
  assert.deepEqual(m.to, ["ada@example.com"]);
  assert.equal(m.auth, "\0codes@vend.example\0s3cret");
  assert.match(m.data, /Subject: Tu =?UTF-8|Subject: .*Vendstream/);
  assert.match(m.data, /123456/);
  // A recipient the server refuses: the send rejects (and the sign-in says so).
  await assert.rejects(
    sender.send("nobody@refused.example", { code: "654321", language: "en" }),
    /550|No such user|rejected/i,
  );
  // Phone numbers need an SMS sender.
  await assert.rejects(sender.send("+34600111222", { code: "1", language: "en" }), TypeError);
  assert.equal(smtp.messages.length, 1);
});

Deno.test("SmtpCodeSender refuses a URL that is not smtp:// or smtps://, naming what is wrong", () => {
  assert.throws(
    () => new SmtpCodeSender("http://mail.example"),
    /expected smtp:\/\/ or smtps:\/\//,
  );
  assert.throws(() => new SmtpCodeSender("not a url"), /not a URL/);
});
