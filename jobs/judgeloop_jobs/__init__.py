"""Shared code of the Judgeloop Python jobs (SageMaker script-mode contract, progress lines, decoding grammar)."""
