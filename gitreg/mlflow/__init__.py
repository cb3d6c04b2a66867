"""MLflow's model registry on a gitreg registry (issue 15): `mlflow.set_registry_uri("gitreg:///PATH")`.

`gitreg.mlflow.store.GitregRegistryStore` is the registry store MLflow finds through the
`mlflow.model_registry_store` entry point. Nothing here is imported by gitreg's own
commands: MLflow (the `mlflow` extra) is needed only by this package.
"""
