"""The HParams dashboard of a TensorBoard log folder, read in-process with TensorBoard's
own hparams backend (what its `/data/plugin/hparams/session_groups` route answers)."""

from __future__ import annotations

from pathlib import Path


def dashboard(logdir: Path) -> tuple[list[str], dict[str, dict]]:
    """What the HParams dashboard shows for `tensorboard --logdir logdir`: its metric
    columns (display names, in order) and each session group's `{display name: value}`
    (averaged over the group's sessions, TensorBoard's default), ranked by the first
    column, ascending; plus `"sessions"` (how many) and `"steps"` (each column's step)."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import (
        api_pb2,
        backend_context,
        get_experiment,
        list_session_groups,
    )

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    backend = backend_context.Context(
        base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer, data_provider=provider)
    )
    request_context = context.RequestContext()
    experiment = get_experiment.Handler(
        request_context, backend, "", api_pb2.GetExperimentRequest()
    ).run()
    columns = [api_pb2.ColParams(metric=m.name) for m in experiment.metric_infos]
    columns[0].order = api_pb2.ORDER_ASC
    request = api_pb2.ListSessionGroupsRequest(
        col_params=columns,
        aggregation_type=api_pb2.AGGREGATION_AVG,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS],
        slice_size=1000,
    )
    groups = list_session_groups.Handler(request_context, backend, "", request).run()
    names = {(m.name.group, m.name.tag): m.display_name for m in experiment.metric_infos}
    shown = {}
    for group in groups.session_groups:
        values = {names[(v.name.group, v.name.tag)]: v.value for v in group.metric_values}
        steps = {names[(v.name.group, v.name.tag)]: v.training_step for v in group.metric_values}
        shown[group.name] = {**values, "sessions": len(group.sessions), "steps": steps}
    return [m.display_name for m in experiment.metric_infos], shown
