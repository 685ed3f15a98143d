// A coding agent on Node.js and the official `openai` package, run by the matrix as a program.
//
// The SDK finds its base URL and key in OPENAI_BASE_URL and OPENAI_API_KEY, as it does anywhere;
// the cell's other facts come from its variables (KYLECODE_MODEL, KYLECODE_STREAMING,
// KYLECODE_TASK_FILE, KYLECODE_MAX_STEPS, KYLECODE_FIRST_BYTE_TIMEOUT_S). The SDK's own retries
// are off (maxRetries: 0) so that every provider failure reaches this code as the SDK names it
// (RateLimitError, InternalServerError, APIConnectionError, APIError for an error event in a
// stream), logged to stderr: a 429 waits its Retry-After, then the turn is asked again, up to
// three attempts; so are a body that is no completion (an HTML page) and a stream that ends
// before its finish. Arguments that are not JSON get an error result and are not run. The report
// goes to the file named on the command line.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
import OpenAI from "openai";

const env = process.env;
const reportFile = process.argv[2];
const streaming = env.KYLECODE_STREAMING === "true";
const maxSteps = Number(env.KYLECODE_MAX_STEPS);
const client = new OpenAI({ maxRetries: 0, timeout: Number(env.KYLECODE_FIRST_BYTE_TIMEOUT_S) * 1000 });
const ATTEMPTS = 3;

const object = (properties, required = []) => ({ type: "object", properties, required });
const TOOLS = [
  ["list_dir", object({ path: { type: "string" } })],
  ["write_file", object({ path: { type: "string" }, content: { type: "string" } }, ["path", "content"])],
  ["mark_task_complete", object({ summary: { type: "string" } }, ["summary"])],
].map(([name, parameters]) => ({ type: "function", function: { name, parameters } }));

class Unusable extends Error {
  constructor(message, retryAfter = 0) {
    super(message);
    this.retryAfter = retryAfter;
  }
}

async function completeOnce(messages) {
  const request = { model: env.KYLECODE_MODEL, messages, tools: TOOLS };
  if (!streaming) {
    const completion = await client.chat.completions.create(request);
    const message = completion?.choices?.[0]?.message;
    if (!message) throw new Unusable(`a body that is no chat completion (${typeof completion})`);
    return message;
  }
  const stream = await client.chat.completions.create({ ...request, stream: true });
  let content = "";
  let finished = false;
  const calls = [];
  for await (const chunk of stream) {
    for (const choice of chunk.choices ?? []) {
      content += choice.delta?.content ?? "";
      for (const part of choice.delta?.tool_calls ?? []) {
        const call = (calls[part.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
        call.id = part.id || call.id;
        call.function.name = part.function?.name || call.function.name;
        call.function.arguments += part.function?.arguments ?? "";
      }
      finished ||= Boolean(choice.finish_reason);
    }
  }
  if (!finished) throw new Unusable("the stream ended before its finish");
  return { role: "assistant", content: content || null, ...(calls.length ? { tool_calls: calls } : {}) };
}

async function complete(messages) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await completeOnce(messages);
    } catch (error) {
      if (!(error instanceof OpenAI.APIError || error instanceof Unusable)) throw error;
      const wait =
        error instanceof OpenAI.RateLimitError ? Number(error.headers?.get?.("retry-after") ?? 1) : error.retryAfter ?? 0;
      console.error(`attempt ${attempt}: ${error.constructor.name}: ${error.message}`);
      if (attempt === ATTEMPTS) throw error;
      await new Promise((done) => setTimeout(done, wait * 1000));
    }
  }
}

function runTool(name, args) {
  const root = process.cwd();
  const path = resolve(root, args.path ?? ".");
  if (path !== root && !path.startsWith(root + sep)) return ["error: the path leaves the workspace", true];
  try {
    if (name === "list_dir") {
      const names = readdirSync(path).sort();
      return [names.map((n) => (statSync(resolve(path, n)).isDirectory() ? n + "/" : n)).join("\n"), false];
    }
    if (name === "write_file") {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, String(args.content));
      return [`wrote ${relative(root, path)}`, false];
    }
    if (name === "mark_task_complete") return ["done", false];
  } catch (error) {
    return [`error: ${error.message}`, true];
  }
  return [`error: no tool named ${name}`, true];
}

const messages = [
  { role: "system", content: "You are a careful coding agent. Call mark_task_complete when done." },
  { role: "user", content: readFileSync(env.KYLECODE_TASK_FILE, "utf8") },
];
const toolCalls = [];
const toolResults = [];
const report = (outcome, fields) =>
  writeFileSync(reportFile, JSON.stringify({ outcome, tool_calls: toolCalls, tool_results: toolResults, ...fields }));

for (let step = 1; step <= maxSteps; step++) {
  let message;
  try {
    message = await complete(messages);
  } catch (error) {
    report("failed", { steps: step - 1, error_message: `${error.constructor.name}: ${error.message}` });
    process.exit(1);
  }
  messages.push({ role: "assistant", content: message.content ?? null, ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}) });
  let finished = false;
  for (const call of message.tool_calls ?? []) {
    const { name, arguments: raw } = call.function;
    let output;
    try {
      const args = JSON.parse(raw || "{}");
      toolCalls.push({ id: call.id, name, arguments: args });
      const [text, failed] = runTool(name, args);
      toolResults.push({ id: call.id, error: failed });
      output = text;
      finished ||= name === "mark_task_complete" && !failed;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      toolCalls.push({ id: call.id, name, arguments: raw });
      toolResults.push({ id: call.id, error: true, executed: false });
      output = "error: the arguments are not valid JSON; nothing was run";
    }
    messages.push({ role: "tool", tool_call_id: call.id, content: output });
  }
  if (finished) {
    report("completed", { completion_reason: "tool_finish", steps: step });
    process.exit(0);
  }
}
report("max_steps", { steps: maxSteps });
process.exit(1);
