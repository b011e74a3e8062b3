"""The Flower ServerApp. ``flwr run .`` loads ``app`` (config from ``[tool.flwr.app.config]``
``overrides``); ``lanhar-fl simulate`` builds one bound to its composed config."""

from __future__ import annotations

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from omegaconf import DictConfig

from lanhar_fl.federated.runconfig import config_from_run_config
from lanhar_fl.pipeline.text_side import TextSide

from .federation import run_federation

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    run_federation(grid, config_from_run_config(context.run_config))


def make_server_app(cfg: DictConfig, num_phones: int,
                    text_side: TextSide | None = None) -> ServerApp:
    """A ServerApp running ``cfg`` (used in-process by the Simulation Engine driver), with the
    text side already prepared so that stage 1 does not compete with the engine's start-up."""
    bound = ServerApp()

    @bound.main()
    def _main(grid: Grid, context: Context) -> None:
        run_federation(grid, cfg, num_phones=num_phones, text_side=text_side)

    return bound
