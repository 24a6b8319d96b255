/**
 * `judgeloop completion bash|zsh`: a completion script made from the CLI's own declarations
 * (cli/args.ts commandShapes), so it lists the commands, actions and flags the parser takes. zsh loads the
 * bash function through its bashcompinit.
 */
import type { CommandShape, CompletionShell } from './args';

const ROOT_FLAGS = ['--help', '--version'];

export function completionScript(shell: CompletionShell, commands: readonly CommandShape[]): string {
  const words = (list: readonly string[]) => list.join(' ');
  const flagWords = (cmd: CommandShape) => words([...cmd.flags.map((f) => f.flag), '--help']);
  const pathFlags = [...new Set(commands.flatMap((c) => [c, ...c.actions]).flatMap((c) => c.flags.filter((f) => f.takesPath).map((f) => f.flag)))].sort();
  const cases = commands.map((cmd) => {
    if (cmd.actions.length === 0 && cmd.firstArgument.length > 0) {
      return `    ${cmd.name}) if [[ $COMP_CWORD -eq 2 ]]; then words="${words(cmd.firstArgument)} ${flagWords(cmd)}"; else words="${flagWords(cmd)}"; fi ;;`;
    }
    if (cmd.actions.length === 0) return `    ${cmd.name}) words="${flagWords(cmd)}" ;;`;
    const actions = cmd.actions.map((a) => `        ${a.name}) words="${flagWords(a)}" ;;`);
    return [
      `    ${cmd.name})`,
      `      if [[ $COMP_CWORD -eq 2 ]]; then words="${words(cmd.actions.map((a) => a.name))} --help"; else`,
      `      case "\${COMP_WORDS[2]}" in`,
      ...actions,
      `      esac; fi ;;`,
    ].join('\n');
  });
  const bash = [
    '# judgeloop completion (bash): made by `judgeloop completion bash` from the CLI\'s own declarations',
    '_judgeloop() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" words=""',
    '  case "$prev" in',
    `    ${pathFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`,
    '  esac',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    words="${words([...commands.map((c) => c.name), ...ROOT_FLAGS])}"`,
    '  else',
    '    case "${COMP_WORDS[1]}" in',
    ...cases,
    '    esac',
    '  fi',
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    '}',
    'complete -o default -F _judgeloop judgeloop',
  ].join('\n');
  if (shell === 'bash') return bash;
  return ['#compdef judgeloop', '# judgeloop completion (zsh, through bashcompinit)', 'autoload -U +X bashcompinit && bashcompinit', bash].join('\n');
}
