"""The AI service's own figures (the HTTP ones come from shared)."""

from __future__ import annotations

from ampflux_shared.observability import ServiceMetrics

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10)


class AIMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.tokens = metrics.counter(
            "ampflux_ai_tokens_total", "Tokens by direction (in/out) and model", ["direction", "model"]
        )
        self.provider_calls = metrics.counter(
            "ampflux_ai_provider_calls_total", "Calls to the model provider", ["model", "outcome"]
        )
        self.provider_latency = metrics.histogram(
            "ampflux_ai_provider_latency_seconds",
            "Whole provider calls (to the last token)",
            ["model", "outcome"],
            buckets=_LATENCY_BUCKETS,
        )
        self.cache_hits = metrics.counter("ampflux_ai_cache_hits_total", "Assistant answers served from the cache")
        self.cache_misses = metrics.counter("ampflux_ai_cache_misses_total", "Assistant answers not in the cache")
        self.tool_calls = metrics.counter(
            "ampflux_ai_tool_calls_total", "Tool calls by tool and outcome", ["tool", "outcome"]
        )
        self.ttft = metrics.histogram(
            "ampflux_ai_time_to_first_token_seconds",
            "From the request to the first token the model produced",
            ["model"],
            buckets=_TTFT_BUCKETS,
        )
        self.budget_refusals = metrics.counter(
            "ampflux_ai_budget_refusals_total", "Requests refused because the company's daily budget is spent"
        )
        # Models and files (issue 12).
        self.model_operations = metrics.counter(
            "ampflux_ai_model_operations_total",
            "Ollama model operations (pull, load, unload, start) by outcome",
            ["operation", "outcome"],
        )
        self.files_uploaded = metrics.counter(
            "ampflux_ai_files_uploaded_total", "Files stored, by the sniffed media type", ["media_type"]
        )
        self.file_bytes = metrics.counter("ampflux_ai_file_upload_bytes_total", "Bytes of uploaded files stored")
        self.file_refusals = metrics.counter(
            "ampflux_ai_file_refusals_total", "Uploads refused, by reason (size, count, type)", ["reason"]
        )
        self.file_analyses = metrics.counter(
            "ampflux_ai_file_analyses_total", "File analyses by kind (circuit, model)", ["kind"]
        )
        # Pipelines (issue 12).
        self.pipeline_executions = metrics.counter(
            "ampflux_ai_pipeline_executions_total",
            "Pipeline executions a worker ended, by outcome "
            "(succeeded, failed, stopped: cancelled or taken over, dead_lettered)",
            ["outcome"],
        )
        self.pipeline_executions_in_progress = metrics.gauge(
            "ampflux_ai_pipeline_executions_in_progress", "Pipeline executions this process is running"
        )
        self.pipeline_steps = metrics.counter(
            "ampflux_ai_pipeline_steps_total", "Pipeline steps run, by kind and outcome", ["kind", "outcome"]
        )
        self.pipeline_step_duration = metrics.histogram(
            "ampflux_ai_pipeline_step_duration_seconds",
            "One pipeline step, from its start to its stored result",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
        )
        self.pipeline_resumed_steps = metrics.counter(
            "ampflux_ai_pipeline_resumed_steps_total",
            "Steps started again after their worker died (finished steps are never redone)",
        )
