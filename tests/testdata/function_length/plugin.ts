/**
 * A `deno lint` plugin that reports every function (declaration, expression, arrow or method)
 * longer than 120 lines, for the architecture test's size rule.
 *
 * @module
 */

/** Functions longer than this many lines are reported. */
const MAX_LINES = 120;

// deno-lint-ignore no-explicit-any
type Node = any;

// deno-lint-ignore no-explicit-any
function check(context: any, node: Node, name: string): void {
  const [start, end] = node.range as [number, number];
  const lines = (context.sourceCode.text as string).slice(start, end).split("\n").length;
  if (lines > MAX_LINES) {
    context.report({ node, message: `${name} is ${lines} lines (at most ${MAX_LINES})` });
  }
}

/** The plugin: one rule, `size/function-length`. */
const plugin: Deno.lint.Plugin = {
  name: "size",
  rules: {
    "function-length": {
      create(context) {
        return {
          FunctionDeclaration: (n: Node) => check(context, n, n.id?.name ?? "a function"),
          FunctionExpression: (n: Node) => check(context, n, "a function expression"),
          ArrowFunctionExpression: (n: Node) => check(context, n, "an arrow function"),
          MethodDefinition: (n: Node) => check(context, n, `method ${n.key?.name ?? ""}`),
        };
      },
    },
  },
};
export default plugin;
